"""Cross-cutting helpers every app may import: roles and the permission helpers (`common.roles`), the API helpers
(`common.api`), middleware and throttles (`common.security`), outbound-network guards, the formula-safe CSV writer.

`common` imports no other app of the project."""

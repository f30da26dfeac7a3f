"""Cross-cutting helpers every app may import: outbound-network guards, the formula-safe CSV writer, roles.

`common` imports no other app of the project."""

#!/usr/bin/env bash
# Lets 127.0.0.1 open replication connections to the local PostgreSQL (trust, like the server's other local
# connections), so the read-replica test (common/tests/test_replica.py) can pg_basebackup a streaming replica
# of it. Idempotent; needs write access to the server's pg_hba.conf (CI's .ci/run runs it as root).
set -euo pipefail
PSQL=(psql -h 127.0.0.1 -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" -d postgres -Atq)
allowed="$("${PSQL[@]}" -c "SELECT count(*) FROM pg_hba_file_rules
  WHERE type = 'host' AND 'replication' = ANY(database) AND address = '127.0.0.1' AND auth_method = 'trust'")"
if [ "$allowed" != 0 ]; then
  exit 0
fi
hba="$("${PSQL[@]}" -c 'SHOW hba_file')"
printf '%s\n' "# Streaming replicas on this machine (scripts/pg_replication_allow.sh)." \
  "host replication all 127.0.0.1/32 trust" >>"$hba"
"${PSQL[@]}" -c 'SELECT pg_reload_conf()' >/dev/null
echo "pg_replication_allow: replication from 127.0.0.1 allowed in $hba"

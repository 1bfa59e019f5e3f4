#!/bin/bash
# Runs once, when the PostgreSQL volume is first created (/docker-entrypoint-initdb.d), as the
# superuser: the role reelbot connects as may log in and owns its own database, and nothing else:
# no superuser, no new databases or roles, no replication, no access to other databases.
set -euo pipefail

app_user=${POSTGRES_APP_USER:-reelbot}
app_db=${POSTGRES_APP_DB:-reelbot}
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"

run() { psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"; }

run --dbname "${POSTGRES_DB:-postgres}" \
  -v app_user="$app_user" -v app_db="$app_db" -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
SQL

# Its schema is its own too (PostgreSQL 15+ no longer lets every role create in `public`).
run --dbname "$app_db" -v app_user="$app_user" <<'SQL'
ALTER SCHEMA public OWNER TO :"app_user";
SQL

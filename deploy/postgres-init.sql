-- Runs once, when the postgres container initialises an empty data volume
-- (/docker-entrypoint-initdb.d). One role per consumer, each owning its databases, so the
-- app cannot touch Temporal's tables and the other way round. The passwords match
-- docker-compose.yml; change both together for anything beyond a local machine.

CREATE ROLE partnerflow LOGIN PASSWORD 'partnerflow';
CREATE DATABASE partnerflow OWNER partnerflow;

-- temporalio/auto-setup runs with SKIP_DB_CREATE=true and only installs the schemas.
CREATE ROLE temporal LOGIN PASSWORD 'temporal';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- The visibility schema wants btree_gin; create it here so its setup never needs a superuser.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Finding the grants that reach a caller (`grantee = 'public' OR user_id = ?`) runs on every
-- request about a pipe; without an index on `grantee` that OR scanned the whole table.
CREATE INDEX grants_grantee ON grants(grantee);

-- Listing pipes starts from the caller's own pipes (Store::pipes_reaching): find them by owner
-- instead of reading every pipe.
CREATE INDEX pipes_owner ON pipes(owner_id);

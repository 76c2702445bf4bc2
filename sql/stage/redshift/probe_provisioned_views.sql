-- Whether this connection can read the provisioned-only load views (Serverless: 42501). Run once
-- per connection, in a transaction of its own: an error inside the stage transaction aborts it.
SELECT COUNT(*) FROM stl_load_commits WHERE 1 = 0;

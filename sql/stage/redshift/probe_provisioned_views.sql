-- Whether this connection can read the provisioned-only load views. Serverless refuses any STL
-- view (42501), so this runs once per connection, in a transaction of its own, never inside the
-- stage transaction (any error there would abort it).
SELECT COUNT(*) FROM stl_load_commits WHERE 1 = 0;

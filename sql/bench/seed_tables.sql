-- Benchmark reference only: empty copies of the star schema for the old approach to fill.
-- {prefix} names the copy (e.g. seed_songplays): the old approach never touches real tables.
CREATE TABLE {prefix}songplays (LIKE songplays);
CREATE TABLE {prefix}users (LIKE users);
CREATE TABLE {prefix}songs (LIKE songs);
CREATE TABLE {prefix}artists (LIKE artists);
CREATE TABLE {prefix}time (LIKE time);

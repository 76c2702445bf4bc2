-- Benchmark reference only: drop the old approach's copies of the star schema.
DROP TABLE IF EXISTS {prefix}songplays, {prefix}users, {prefix}songs, {prefix}artists,
    {prefix}time;

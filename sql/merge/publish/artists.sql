-- Publish artists by artist_id from the audited work rows (this merge's only).
MERGE INTO artists
USING work_artists AS b
ON artists.artist_id = b.artist_id
WHEN MATCHED THEN UPDATE SET
    name = b.name, location = b.location, latitude = b.latitude, longitude = b.longitude
WHEN NOT MATCHED THEN INSERT (artist_id, name, location, latitude, longitude)
    VALUES (b.artist_id, b.name, b.location, b.latitude, b.longitude);

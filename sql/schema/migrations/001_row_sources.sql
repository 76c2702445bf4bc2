-- Columns of corrected-file tracking (2026-12) for tables created before it; each statement
-- runs only when its table lacks the column (warehouse/migrations.py).
ALTER TABLE staging_events ADD COLUMN file_no INTEGER;
ALTER TABLE staging_songs ADD COLUMN file_no INTEGER;
ALTER TABLE load_ledger ADD COLUMN file_no INTEGER;
ALTER TABLE songplays ADD COLUMN source_load VARCHAR(32);
ALTER TABLE songplays ADD COLUMN source_file INTEGER;
ALTER TABLE songs ADD COLUMN source_load VARCHAR(32);
ALTER TABLE songs ADD COLUMN source_file INTEGER;
ALTER TABLE work_songs ADD COLUMN source_load VARCHAR(32);
ALTER TABLE work_songs ADD COLUMN source_file INTEGER;
ALTER TABLE work_songplays ADD COLUMN source_load VARCHAR(32);
ALTER TABLE work_songplays ADD COLUMN source_file INTEGER;

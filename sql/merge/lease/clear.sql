-- Remove an expired lease (its merge crashed) before taking a new one.
DELETE FROM merge_lease WHERE name = 'merge' AND expires_at <= %(now)s;

-- Forget the merge request: a lease step took what was staged (or found nothing), or starting
-- the execution failed and the next batch must try again.
DELETE FROM merge_requests WHERE name = 'merge';

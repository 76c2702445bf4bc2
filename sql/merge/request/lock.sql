-- Serialize merge requests with the lease step: the first statement of both transactions, so a
-- batch staged while a merge decides "nothing staged" either is seen by it or requests a merge.
LOCK merge_requests;

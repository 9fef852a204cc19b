-- Rate limits shared by every instance: how many requests each bucket (a kind of request and
-- the client's network, say) made in each fixed window. Old windows are deleted by housekeeping.
CREATE TABLE rate_limit_hits (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_hits_window ON rate_limit_hits (window_start);

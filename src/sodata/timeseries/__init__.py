"""The time-series engine: storage of every variable's points, calendar buckets in any zone,
and aggregates assembled from mergeable partials (see README, "Datapoints")."""

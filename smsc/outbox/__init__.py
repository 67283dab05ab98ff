"""One outbox for every HTTP delivery: persisted jobs, POSTed until a 2xx."""

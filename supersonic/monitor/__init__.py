"""Watching runs from their events: reading events.jsonl (`events`), folding them into the
run's state (`state`), the live terminal view (`live`) and the HTML report (`report`). It reads
files only, so it works as well on a copy of a run's events taken off a cluster."""

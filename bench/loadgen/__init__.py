"""Load generation: the streaming client, arrival schedules, and the run loop."""

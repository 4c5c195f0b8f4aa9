//! A fake Greenhouse: a real HTTP server following the documented Harvest behaviour, for tests and the demo.

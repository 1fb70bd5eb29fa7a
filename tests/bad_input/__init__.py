"""The bad inputs a real user hits (issue 15): one test per case, each failing on the code before its fix."""

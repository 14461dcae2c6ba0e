"""The rollback phase ("Rollback Procedures"): decide from evidence whether to roll back, roll
back (only when allowed) and verify it, and leave the post-rollback actions for sign-off."""

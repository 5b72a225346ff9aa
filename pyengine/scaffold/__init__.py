"""Starting points for new projects (`pyengine init`)."""

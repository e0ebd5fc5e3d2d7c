"""Configuration a person writes: loaded once, validated strictly, errors name file and field."""

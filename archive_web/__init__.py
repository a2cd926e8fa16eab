"""The read-only web archive: topics, threads and posts as plain, accessible HTML pages."""

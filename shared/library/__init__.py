"""Books with editions: the book record, its store, and erasure."""

"""Jobs: the record (`record`: the row, its status words, its steps, the queue message) and the
store (`store`: reading the row, changing it with compare-and-swap, the blob names a job owns, and
clearing a finished job's files). The web tier and the worker meet here and nowhere else."""

"""Pictures, reports and the command-line tools: train, predict, explain, gradcheck."""

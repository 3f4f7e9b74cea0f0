"""The `faxrelay` command: the local stack launcher, the sandbox, and tools for operators."""

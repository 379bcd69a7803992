"""Pure, synchronous domain core: values, rules and state machines. Stdlib only, no I/O, no clock."""

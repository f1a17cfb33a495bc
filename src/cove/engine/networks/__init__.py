"""Networks: the records, address management and the service the engine and API use."""

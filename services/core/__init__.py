"""The shared core both services depend on (never the other way round): the order model, storage bounds, the
status machine, the order change a rules engine hears about, message keys. Pure: no IO, no clock, no framework."""

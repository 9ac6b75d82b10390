"""Start-up wiring: the command-line flags, building the server or the headless runner from them, and
the scale-out setup. The one package that may import engine/, nodes/ and web/ together."""

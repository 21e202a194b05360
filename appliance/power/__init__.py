"""Solar battery: measurement (MCP3008 over SPI, low-voltage pin), states, clean shutdown, history."""

"""Running Nazar locally: embedded MongoDB, RabbitMQ check, one-service runner, launcher."""

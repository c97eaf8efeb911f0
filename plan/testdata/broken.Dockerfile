FROM debian:bookworm-slim
RUN apt-get update
RUNN apt-get install -y curl

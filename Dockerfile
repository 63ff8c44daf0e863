FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py ./
COPY ocpp_worker ./ocpp_worker
COPY api ./api
RUN pip install --no-cache-dir .
# Run as an unprivileged user: a compromised process can then not rewrite the code it
# runs nor anything else in the image. Every port is above 1024, so nothing needs root.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent csms
USER 10001:10001
ENV PYTHONUNBUFFERED=1
EXPOSE 9000 8081 5555
CMD ["python", "-m", "ocpp_worker.gateway"]

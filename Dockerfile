FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py ./
COPY ocpp_worker ./ocpp_worker
COPY api ./api
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
EXPOSE 9000 8081 5555
CMD ["python", "-m", "ocpp_worker.gateway"]

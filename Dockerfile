# One image for every Responer service; Kubernetes picks the service with its command
# (`python -m responer_<service>`, see deploy/k8s). Build: docker build -t responer .
FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9 \
 && apt-get update && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml uv.lock Makefile ./
COPY proto proto
COPY libs libs
COPY services services
# grpcio-tools (dev group) generates the protobuf code; the second sync then removes the dev tools.
RUN uv sync --frozen \
 && make proto \
 && uv sync --frozen --no-dev \
 && rm -rf /root/.cache

FROM python:3.11-slim
RUN groupadd --gid 10001 responer \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin responer
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The root filesystem is read-only in Kubernetes; only /tmp (an emptyDir) is writable.
USER 10001:10001
EXPOSE 8080 8081 50051
CMD ["python", "-m", "responer_gateway"]

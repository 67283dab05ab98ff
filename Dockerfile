FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/smsc
COPY pyproject.toml README.md ./
COPY smsc ./smsc
COPY config ./config
RUN pip install . \
 && useradd --system --create-home --home-dir /var/lib/smsc smsc \
 && mkdir -p /var/lib/smsc/var && chown -R smsc:smsc /var/lib/smsc
USER smsc
WORKDIR /var/lib/smsc
EXPOSE 5060/udp 5060/tcp 8080/tcp
ENTRYPOINT ["smsc"]
CMD ["serve", "-c", "/opt/smsc/config/smsc.yaml"]

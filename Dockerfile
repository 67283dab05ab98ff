# SMSC / IP-SM-GW. Build: docker build -t smsc .   Run: see docs/deployment.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/smsc \
    PATH=/opt/smsc/bin:$PATH

# Every top-level package of pyproject.toml, the shipped configuration and the pinned versions
# (tests/test_dockerfile.py checks this list against pyproject.toml).
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE constraints.txt ./
COPY smsc ./smsc
COPY charging ./charging
COPY aml ./aml
COPY config ./config

# A virtual environment: works on the official image and on a Debian python3 base alike.
# gcc is there only while pip builds the native SIP data plane (smsc.sip._scan), then removed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && python3 -m venv /opt/smsc \
 && /opt/smsc/bin/pip install -c constraints.txt . \
 && /opt/smsc/bin/python -c "import smsc.sip._scan" \
 && apt-get purge -y --auto-remove gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/smsc \
 && cp config/docker.yaml /etc/smsc/smsc.yaml \
 && groupadd --system --gid 10001 smsc \
 && useradd --system --uid 10001 --gid smsc --home-dir /var/lib/smsc \
      --shell /usr/sbin/nologin smsc \
 && mkdir -p /var/lib/smsc \
 && chown smsc:smsc /var/lib/smsc \
 && rm -rf /src

USER smsc:smsc
WORKDIR /var/lib/smsc
VOLUME ["/var/lib/smsc"]
EXPOSE 5060/udp 5060/tcp 8080/tcp

# /healthz on the port that http.listen (or SMSC__HTTP__LISTEN) names.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('SMSC__HTTP__LISTEN', ':8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]

ENTRYPOINT ["smsc"]
CMD ["serve", "-c", "/etc/smsc/smsc.yaml"]

"""nginx as the HTTP benchmark's baseline: one worker, sendfile, no access log, keep-alive for
the whole run (keepalive_requests 1000000), serving the files' directory."""
import os

NGINX_CONF = """worker_processes 1;
master_process off;
daemon off;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
"""


def nginx_cmd(port, root, workdir):
    """nginx's command line, its configuration written into `workdir`."""
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=workdir, port=port, root=root))
    return ["nginx", "-c", conf, "-p", workdir]

from django.core.management.base import BaseCommand

from luna_site.embedding_server import embedding_server


class Command(BaseCommand):
    help = "The embedding service: holds the sentence model for the web and worker processes (EMBEDDING_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8001", help="host:port to listen on (default 127.0.0.1:8001)")

    def handle(self, *, bind: str, **_):
        host, port = bind.rsplit(":", 1)
        server = embedding_server(host, int(port))
        self.stdout.write(f"embedding service at http://{host}:{server.server_address[1]}/", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

"""Applications of the framework and WebSocket tests, loaded by wsgi_apps.py's server process
by name (imported only there: Flask and Django are not needed by the other tests)."""


def ws_app(name):
    from greenhub import websocket

    def echo(ws):
        while True:
            m = ws.wait()
            if m is None:
                return
            ws.send(m)

    def bye(ws):
        ws.send("bye " + ws.path)

    def details(ws):
        ws.send("%s|%s|%s" % (ws.path, ws.origin, ws.protocol))

    if name == "ws-echo":
        return websocket.WebSocketWSGI(echo)
    if name == "ws-small":
        return websocket.WebSocketWSGI(echo, max_frame_length=1000)
    if name == "ws-bye":
        return websocket.WebSocketWSGI(bye)
    if name == "ws-checked":
        return websocket.WebSocketWSGI.configured(
            details, supported_protocols=["chat"],
            origin_checker=lambda host, origin: origin == "http://good.example")
    raise KeyError(name)


def flask_app():
    import flask

    app = flask.Flask("greenhub_wsgi_test")

    @app.route("/hello/<name>")
    def hello(name):
        return "Hello, %s!" % name

    @app.route("/echo", methods=["POST"])
    def echo():
        return flask.jsonify(length=len(flask.request.get_data()),
                             form=flask.request.form.to_dict(),
                             args=flask.request.args.to_dict(),
                             type=flask.request.content_type)

    @app.route("/stream")
    def stream():
        return flask.Response((b"part%d;" % i for i in range(4)), mimetype="text/plain")

    @app.route("/fail")
    def fail():
        raise RuntimeError("a view that fails")

    return app


def django_app():
    import django
    from django.conf import settings
    from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    def hello(request, name):
        return HttpResponse("Hello, %s!" % name)

    @csrf_exempt
    def echo(request):
        return JsonResponse({"length": len(request.body), "method": request.method,
                             "args": request.GET.dict(), "type": request.content_type,
                             "path": request.path, "secure": request.is_secure()})

    @csrf_exempt
    def form(request):
        return JsonResponse({"form": request.POST.dict()})

    def stream(request):
        return StreamingHttpResponse((b"part%d;" % i for i in range(4)))

    import types
    urls = types.ModuleType("greenhub_test_urls")
    urls.urlpatterns = [path("hello/<str:name>", hello), path("echo", echo),
                        path("form", form), path("stream", stream)]
    import sys
    sys.modules["greenhub_test_urls"] = urls
    settings.configure(DEBUG=False, SECRET_KEY="greenhub-tests", ALLOWED_HOSTS=["*"],
                       ROOT_URLCONF="greenhub_test_urls", MIDDLEWARE=[], INSTALLED_APPS=[],
                       USE_TZ=True)
    django.setup()
    from django.core.wsgi import get_wsgi_application
    return get_wsgi_application()


def load(name):
    if name.startswith("ws-"):
        return ws_app(name)
    if name == "flask":
        return flask_app()
    if name == "django":
        return django_app()
    raise KeyError("no application %r" % name)

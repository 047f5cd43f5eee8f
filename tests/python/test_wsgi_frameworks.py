"""A Flask application and a Django application (from the package index) served by
greenhub.wsgi, with requests as the client."""

import pytest
import requests

from wsgi_support import served

pytestmark = pytest.mark.greenhub_only("greenhub.wsgi runs the server process")


@pytest.fixture(scope="module")
def flask_server():
    with served("flask") as s:
        yield s


@pytest.fixture(scope="module")
def django_server():
    with served("django") as s:
        yield s


def test_flask_routes_and_unicode(flask_server):
    r = requests.get(flask_server.url + "/hello/w%C3%B6rld")
    assert r.status_code == 200 and r.text == "Hello, w\u00f6rld!"
    assert requests.get(flask_server.url + "/nowhere").status_code == 404


def test_flask_form_body_and_query(flask_server):
    r = requests.post(flask_server.url + "/echo?q=1", data={"a": "b", "c": "d é"})
    assert r.json() == {"length": len("a=b&c=d+%C3%A9"), "form": {"a": "b", "c": "d é"},
                        "args": {"q": "1"}, "type": "application/x-www-form-urlencoded"}
    big = b"z" * 300000
    r = requests.post(flask_server.url + "/echo", data=big,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.json()["length"] == len(big)


def test_flask_chunked_upload_and_streamed_response(flask_server):
    r = requests.post(flask_server.url + "/echo", data=iter([b"a" * 1000, b"b" * 5000]),
                      headers={"Content-Type": "application/octet-stream"})
    assert r.json()["length"] == 6000
    r = requests.get(flask_server.url + "/stream")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.content == b"part0;part1;part2;part3;"


def test_flask_view_failing_is_its_500(flask_server):
    assert requests.get(flask_server.url + "/fail").status_code == 500
    assert requests.get(flask_server.url + "/hello/again").text == "Hello, again!"


def test_django_views(django_server):
    r = requests.get(django_server.url + "/hello/w%C3%B6rld")
    assert r.status_code == 200 and r.text == "Hello, w\u00f6rld!"
    r = requests.post(django_server.url + "/echo?x=%20y", data=b"q" * 123456,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.json() == {"length": 123456, "method": "POST", "args": {"x": " y"},
                        "type": "application/octet-stream", "path": "/echo", "secure": False}
    assert requests.get(django_server.url + "/missing").status_code == 404


def test_django_form_and_streaming(django_server):
    r = requests.post(django_server.url + "/form", data={"name": "gr\u00fcn", "n": "1"})
    assert r.json() == {"form": {"name": "gr\u00fcn", "n": "1"}}
    # (Django reads CONTENT_LENGTH bytes: a chunked upload reads as empty there, whatever the
    # server; Flask's test above reads one.)
    r = requests.get(django_server.url + "/stream")
    assert r.content == b"part0;part1;part2;part3;"

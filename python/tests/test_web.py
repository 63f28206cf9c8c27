"""The course's web site: `reseau.WebServer` serves the rouille site (over
SQLite) in the background, and the course's JSON routes answer plain
urllib, as they answer the course's CherryPy client.
"""

import inspect
import json
import urllib.error
import urllib.request

import pytest

import reseau
from conftest import WAIT


def get_json(server, path):
    host, port = server.address
    with urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=WAIT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read().decode("utf-8"))


def post_json(server, path, body):
    host, port = server.address
    request = urllib.request.Request(
        "http://%s:%d%s" % (host, port, path), data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return response.status, json.loads(response.read().decode("utf-8"))


@pytest.fixture
def site(tmp_path):
    with reseau.WebServer(host="127.0.0.1", port=0, db=str(tmp_path / "site.db")) as server:
        yield server


def test_listusers_gives_the_course_users(site, tmp_path):
    assert get_json(site, "/listusers") == {"users": ["CBF", "LUR", "VRL"]}
    assert (tmp_path / "site.db").exists()


def test_adduser_takes_the_course_double_encoded_json(site):
    # What the course's client sends: a JSON string that holds the object.
    assert post_json(site, "/adduser", json.dumps({"name": "Ada"})) == (200, {"OK": True})
    assert get_json(site, "/listusers")["users"] == ["CBF", "LUR", "VRL", "Ada"]


def test_api_sum_is_summed_by_the_core(site):
    assert post_json(site, "/api/sum", [1, 2, 3]) == (200, {"sum": 6})


def test_index_greets_by_name(site):
    host, port = site.address
    with urllib.request.urlopen("http://%s:%d/?name=Ada" % (host, port), timeout=WAIT) as response:
        assert "Hello <b>Ada</b>!" in response.read().decode("utf-8")


def test_unknown_page_is_a_404(site):
    host, port = site.address
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen("http://%s:%d/no-such-page" % (host, port), timeout=WAIT)
    assert error.value.code == 404


def test_the_database_outlives_the_server(tmp_path):
    db = str(tmp_path / "site.db")
    with reseau.WebServer(host="127.0.0.1", port=0, db=db) as server:
        post_json(server, "/adduser", {"name": "Grace"})
    with reseau.WebServer(host="127.0.0.1", port=0, db=db) as server:
        assert "Grace" in get_json(server, "/listusers")["users"]


def test_stop_closes_the_site(tmp_path):
    server = reseau.WebServer(host="127.0.0.1", port=0, db=str(tmp_path / "site.db"))
    server.start()
    host, port = server.address
    assert get_json(server, "/listusers")["users"]
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen("http://%s:%d/listusers" % (host, port), timeout=WAIT)


def test_config_file_in_the_course_format(tmp_path):
    config = tmp_path / "server.conf"
    config.write_text(
        "[global]\n"
        "server.socket_host: '127.0.0.1'\n"
        "server.socket_port: 8080\n"
        "reseau.db: %r\n" % str(tmp_path / "from-config.db"))
    # Arguments override the file, as the command line's flags do.
    with reseau.WebServer(config=str(config), port=0) as server:
        assert server.address[0] == "127.0.0.1"
        assert server.address[1] != 8080
        assert get_json(server, "/listusers") == {"users": ["CBF", "LUR", "VRL"]}
    assert (tmp_path / "from-config.db").exists()


def test_a_bad_config_file_is_refused(tmp_path):
    config = tmp_path / "server.conf"
    config.write_text("[global]\nserver.no_such_key: 1\n")
    with pytest.raises(ValueError, match="server.no_such_key"):
        reseau.WebServer(config=str(config), port=0, db=str(tmp_path / "site.db")).start()


def test_a_postgresql_url_is_tried_and_its_password_never_shown(tmp_path):
    # Port 1 on 127.0.0.1: nothing listens, so the start fails at once.
    with pytest.raises(OSError) as refused:
        reseau.WebServer(port=0, db="postgresql://u:s3cret@127.0.0.1:1/d").start()
    assert str(refused.value).startswith(
        "cannot open the database postgresql://u:***@127.0.0.1:1/d: ")
    assert "s3cret" not in str(refused.value)


def test_web_server_takes_keyword_arguments():
    params = inspect.signature(reseau.WebServer).parameters
    assert {"config", "host", "port", "db"} <= set(params)
    assert params["config"].default is None


def test_static_files_come_with_the_package(tmp_path, monkeypatch):
    # A notebook's working folder has no web/public, and a wheel runs where
    # the source tree it was built from is not: the package ships them.
    import os
    shipped = os.path.join(os.path.dirname(reseau.__file__), "public", "style.css")
    with open(shipped, "rb") as f:
        expected = f.read()
    monkeypatch.chdir(tmp_path)
    with reseau.WebServer(host="127.0.0.1", port=0, db=str(tmp_path / "site.db")) as server:
        host, port = server.address
        url = "http://%s:%d/static/style.css" % (host, port)
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            assert response.read() == expected

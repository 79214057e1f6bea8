"""The runtime_images role, built on the instance: the images are there, labelled and current."""

import json


def test_the_images_are_loaded_and_labelled(host):
    for name in ("nginx",):
        shown = host.run(f"docker image inspect containerpoker/{name}")
        assert shown.rc == 0, shown.stderr
        labels = json.loads(shown.stdout)[0]["Config"]["Labels"]
        assert labels["containerpoker.image"] == name
        assert labels.get("containerpoker.build-hash")
    assert host.run("docker image inspect debian:bookworm-slim").rc == 0
    assert host.file("/opt/containerpoker/images/nginx/Dockerfile").exists


def test_a_second_build_has_nothing_to_do(host):
    again = host.run(
        "CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env "
        "CONTAINERPOKER_IMAGES_DIR=/opt/containerpoker/images "
        "/opt/containerpoker/venv/bin/containerpoker images build"
    )
    assert again.rc == 0 and "nothing to build" in again.stdout, again.stderr


def test_a_runtime_image_serves_its_default_page(host):
    started = host.run(
        "docker run -d --rm --name probe -p 127.0.0.1:18080:8080 containerpoker/nginx"
    )
    assert started.rc == 0, started.stderr
    try:
        page = host.run(
            'python3 -c "import time, urllib.request\n'
            "for _ in range(50):\n"
            "    try: print(urllib.request.urlopen('http://127.0.0.1:18080/').read().decode()); break\n"
            '    except OSError: time.sleep(0.1)"'
        )
        assert "Your nginx container is ready" in page.stdout
    finally:
        host.run("docker rm -f probe")

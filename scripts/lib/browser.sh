# Sourced by scripts/test: the browser that the web page's tests drive (Debian's chromium).
setup_browser() {
    :
}

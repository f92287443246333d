"""SSRL for microscopy: the Streamlit app (navigation, shared sidebar, home page).

Run with `streamlit run app.py`. Pages: Data, Augment, Train, Explore, Bias (pages/). The pages
only read widgets, call `ssrl_core` and draw; long work runs in background jobs.
After Bendidi et al., "Exploring self-supervised learning biases for microscopy image
representation", Biological Imaging 2024.
"""

from __future__ import annotations

import streamlit as st

from ssrl_app.home import demo
from ssrl_app.shell import loaders, session, sidebar, state
from ssrl_app.shell.errors import at_the_edge

# The one table of pages: the navigation and the Home page's path through the app are built from it.
PAGES = (  # file, title, icon, what it is for
    ("pages/data.py", "Data", ":material/photo_library:", "look at your cells, filter them, import your own images."),
    ("pages/augment.py", "Augment", ":material/tune:", "compose a recipe of alterations and check the views by eye."),
    ("pages/train.py", "Train", ":material/model_training:", "run a short self-supervised training in the background."),
    ("pages/explore.py", "Explore", ":material/scatter_plot:",
     "embed, cluster and map the cells; see which cells group together."),
    ("pages/bias.py", "Bias", ":material/balance:",
     "measure which factors (size, brightness, class…) the representation encodes."),
)


def home() -> None:
    """The landing page: what the tool does and the path through it."""
    st.title("Which augmentations decide what your cells' representation sees")
    st.markdown(
        "Self-supervised learning learns from **unlabelled cells** by making two altered *views* of "
        "each cell look alike to a network. The alterations you choose (crops, blur, intensity "
        "changes…) are a hidden form of supervision: whatever they change, the representation learns "
        "to ignore (Bendidi et al., *Biological Imaging* 2024).")
    for step, (page, title, _icon, text) in enumerate(PAGES, start=1):
        c1, c2 = st.columns([1, 4])
        c1.page_link(page, label=f"{step}. {title}")
        c2.write(text)
    st.caption("Everything stays on this computer. Runs are saved in the runs folder; uploads in a "
               "per-session folder.")
    demo.render()


def main() -> None:
    """Configure the page, keep state across pages, draw the sidebar and run the chosen page."""
    st.set_page_config(page_title="SSRL for microscopy", page_icon="🔬", layout="wide")
    state.keep_widget_state()
    session.restore()  # after a browser refresh: the dataset, cells, checkpoint and recipes come back
    pages = [st.Page(home, title="Home", icon=":material/home:", default=True)]
    pages += [st.Page(path, title=title, icon=icon) for path, title, icon, _text in PAGES]
    page = st.navigation(pages)
    sidebar.dataset_picker()
    try:
        with at_the_edge("This page"):  # a full disk, a read-only folder...: one plain sentence
            page.run()
    finally:  # also after a page stops early (st.stop) with a plain message
        with at_the_edge("The sidebar"):
            sidebar.render_status()
            session.sidebar_box()
            session.save()
    loaders.warm_up()


main()

"""Old name of `ssrl_app.errors`, kept only while pages/bias.py, ssrl_app/data_import.py and
ssrl_app/section31_view.py (other changes in flight) still import it; new code imports
`ssrl_app.errors`. Delete this file once they do."""

from ssrl_app.errors import message, plain_errors

__all__ = ["message", "plain_errors"]

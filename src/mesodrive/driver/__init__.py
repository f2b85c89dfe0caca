"""The driver layer: transports and the session with one injector. The only layer that talks
to hardware; everything above uses its API and never touches pyserial or pyusb."""

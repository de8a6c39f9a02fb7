"""placeholder"""

def open_product(path):
    return None
